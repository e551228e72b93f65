/*
 * banned.h - functions that are too easy to misuse (git's banned.h).
 * Use struct dg_strbuf, snprintf or memcpy with explicit lengths instead.
 */
#ifndef DG_BANNED_H
#define DG_BANNED_H

#define DG_BANNED(func) sorry_##func##_is_a_banned_function

#undef strcpy
#define strcpy(x, y) DG_BANNED(strcpy)
#undef strcat
#define strcat(x, y) DG_BANNED(strcat)
#undef strncpy
#define strncpy(x, y, n) DG_BANNED(strncpy)
#undef strncat
#define strncat(x, y, n) DG_BANNED(strncat)
#undef sprintf
#define sprintf(...) DG_BANNED(sprintf)
#undef vsprintf
#define vsprintf(...) DG_BANNED(vsprintf)
#undef strtok
#define strtok(x, y) DG_BANNED(strtok)
#undef gets
#define gets(x) DG_BANNED(gets)

#endif
