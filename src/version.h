#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.13.4"
#endif
