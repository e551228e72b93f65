#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.8.0"
#endif
