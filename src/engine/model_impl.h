/* engine/model_impl.h — what model.c and graph.c share. */
#ifndef MINIMA_ENGINE_MODEL_IMPL_H
#define MINIMA_ENGINE_MODEL_IMPL_H

#include "minima/model.h"

/* Free the nodes and their names (not the model). */
void minima_model_free_graph(minima_model *m);

#endif
