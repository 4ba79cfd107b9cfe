// libyaml (Debian libyaml-dev) as Swift sees it: the event parser SluiceConfig composes its
// YAML tree from. Only the SluiceConfig module imports this.
#ifndef CYAML_SHIM_H
#define CYAML_SHIM_H

#include <yaml.h>

#endif
