#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.6.0"
#endif
