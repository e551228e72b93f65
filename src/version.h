#ifndef DG_VERSION_H
#define DG_VERSION_H
#define DG_VERSION "0.14.12"
#endif
