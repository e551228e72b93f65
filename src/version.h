#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.15.3"
#endif
