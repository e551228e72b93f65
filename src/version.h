#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.3.0"
#endif
