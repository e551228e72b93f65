#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.4.0"
#endif
