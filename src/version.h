#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.2.0"
#endif
