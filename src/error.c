#include "error.h"

static _Thread_local char message[2048];

void dg_error_set(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(message, sizeof(message), fmt, ap);
	va_end(ap);
}

void dg_error_prefix(const char *fmt, ...)
{
	char old[sizeof(message)];
	char prefix[512];
	va_list ap;

	memcpy(old, message, sizeof(old));
	va_start(ap, fmt);
	vsnprintf(prefix, sizeof(prefix), fmt, ap);
	va_end(ap);
	snprintf(message, sizeof(message), "%s: %s", prefix, old);
}

const char *dg_error_last(void)
{
	return message;
}

void dg_error_clear(void)
{
	message[0] = '\0';
}
