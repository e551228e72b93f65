#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.16.14"
#endif
