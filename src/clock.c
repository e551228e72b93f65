#include "clock.h"

#include <time.h>

static int64_t skew_ms(void)
{
	static int64_t skew = INT64_MIN;

	if (skew == INT64_MIN) {
		const char *v = getenv("DGRID_TEST_CLOCK_SKEW");
		char *end = NULL;
		long long s = v && *v ? strtoll(v, &end, 10) : 0;

		skew = end && *end == '\0' && s > -86400LL * 365 && s < 86400LL * 365 ? s * 1000 : 0;
	}
	return skew;
}

int64_t dg_wall_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + skew_ms();
}

int64_t dg_wall_seconds(void)
{
	return dg_wall_ms() / 1000;
}

int64_t dg_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
