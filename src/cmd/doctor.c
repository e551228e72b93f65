#include "../common.h"
#include "cmd.h"
int cmd_doctor(int argc DG_UNUSED, char **argv DG_UNUSED) { return 0; }
