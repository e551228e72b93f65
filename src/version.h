#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.1.0"
#endif
