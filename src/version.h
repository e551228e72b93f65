#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.9.0"
#endif
