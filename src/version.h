#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.7.0"
#endif
