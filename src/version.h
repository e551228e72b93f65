#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.11.0"
#endif
