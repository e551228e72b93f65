/*
 * sshsig.h - OpenSSH signatures: what `ssh-keygen -Y sign` writes and
 * `ssh-keygen -Y verify` checks (OpenSSH's PROTOCOL.sshsig), so that task
 * submitters sign with the SSH keys they already use for Git.
 *
 * An armored signature ("-----BEGIN SSH SIGNATURE-----") carries the
 * signer's public key, a namespace ("dgrid-task": a signature made for
 * another purpose, such as "git" or "file", never counts here), a hash
 * algorithm (sha256 or sha512) and the signature over
 *
 *   "SSHSIG" || string(namespace) || string("") || string(hash_alg) || string(H(message))
 *
 * Keys are Ed25519 only, through libsodium: it is what `ssh-keygen -t
 * ed25519` makes and what GitHub recommends. A signature by an RSA, ECDSA
 * or security-key (sk-*) key is refused with a message that says so.
 *
 * Private keys are read from OpenSSH's own file format ("-----BEGIN
 * OPENSSH PRIVATE KEY-----"), unencrypted only: a key with a passphrase is
 * refused with a message pointing at `ssh-keygen -Y sign`, which writes
 * the same signature. The secret bytes are wiped by dg_sshkey_release,
 * and the file's text as soon as it is read.
 *
 * All parsers take hostile input (the repository is writable by anyone with
 * push access): every length is checked, and a refusal says what is wrong.
 */
#ifndef DG_SSHSIG_H
#define DG_SSHSIG_H

#include "common.h"
#include "strbuf.h"

#define DG_SSH_ED25519_PK 32
#define DG_SSH_ED25519_SIG 64
/* "SHA256:" + 43 base64 characters, as `ssh-keygen -l` prints it */
#define DG_SSH_FINGERPRINT_LEN 50

/* The namespace of a task's signature. */
#define DG_SSHSIG_TASK_NAMESPACE "dgrid-task"

struct dg_sshsig {
	unsigned char pk[DG_SSH_ED25519_PK];     /* the signer's key */
	char namespace[64];
	char hash[8];                            /* "sha256" or "sha512" */
	unsigned char sig[DG_SSH_ED25519_SIG];
};

/*
 * Reads an armored signature. DG_EINVALID with the reason: not armored,
 * bad base64, truncated, another version, a key type other than
 * ssh-ed25519, an unknown hash.
 */
int dg_sshsig_parse(struct dg_sshsig *sig, const char *armor, size_t len);

/*
 * Checks sig over message for namespace ns. 0 when it holds; DG_EINVALID
 * with the reason ("signature is for namespace 'file', not 'dgrid-task'",
 * "signature does not match the signed bytes").
 */
int dg_sshsig_verify(const struct dg_sshsig *sig, const char *ns,
		     const void *message, size_t len);

struct dg_sshkey {
	unsigned char pk[DG_SSH_ED25519_PK];
	unsigned char *sk;                       /* 64 bytes (seed || pk) */
	char *comment;
};

#define DG_SSHKEY_INIT { { 0 }, NULL, NULL }

/* Loads an unencrypted OpenSSH Ed25519 private key file. */
int dg_sshkey_load(struct dg_sshkey *key, const char *path);
/* A new random key. */
void dg_sshkey_generate(struct dg_sshkey *key, const char *comment);
/*
 * Writes key to path as an unencrypted OpenSSH private key (what
 * `ssh-keygen -t ed25519 -N ''` writes; `ssh-keygen -y -f` reads it),
 * mode 0600, through a temporary file and a rename. The file must not
 * exist yet (DG_ECONFLICT): a node's key is never replaced silently.
 */
int dg_sshkey_save(const struct dg_sshkey *key, const char *path);
void dg_sshkey_release(struct dg_sshkey *key);

/* Appends the armored signature of message (namespace ns, sha512), as ssh-keygen writes it. */
void dg_sshsig_sign(struct dg_strbuf *armor, const struct dg_sshkey *key, const char *ns,
		    const void *message, size_t len);

/*
 * Reads a public key as it appears in authorized_keys and allowed_signers:
 * key type and base64 blob ("ssh-ed25519 AAAAC3..."). DG_EINVALID names
 * the problem, including "key type 'ssh-rsa' is not supported".
 */
int dg_sshkey_parse_public(unsigned char pk[DG_SSH_ED25519_PK], const char *type, const char *b64);

/* The same from one string "ssh-ed25519 BASE64" (a registration's "public_key"). */
int dg_sshkey_parse_text(unsigned char pk[DG_SSH_ED25519_PK], const char *text);

/* "SHA256:..." of a key, as `ssh-keygen -l` shows it. */
void dg_sshkey_fingerprint(char out[DG_SSH_FINGERPRINT_LEN + 1], const unsigned char pk[DG_SSH_ED25519_PK]);

/* Appends "ssh-ed25519 BASE64" for pk. */
void dg_sshkey_format_public(struct dg_strbuf *out, const unsigned char pk[DG_SSH_ED25519_PK]);

#endif
