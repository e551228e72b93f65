#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.12.1"
#endif
