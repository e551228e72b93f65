#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.10.0"
#endif
