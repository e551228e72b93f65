#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.5.0"
#endif
