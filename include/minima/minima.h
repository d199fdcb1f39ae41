/* minima/minima.h — the whole public API in one include:
 *
 *     #include <minima/minima.h>
 *     cc prog.c $(pkg-config --cflags --libs minima)
 *
 * Every header of include/minima/ is listed here (tests/cli_install.sh
 * checks that none is missing). docs/c-api.md shows the common path. */
#ifndef MINIMA_MINIMA_H
#define MINIMA_MINIMA_H

#include "minima/alloc.h"
#include "minima/api.h"
#include "minima/audit.h"
#include "minima/data.h"
#include "minima/density.h"
#include "minima/dist.h"
#include "minima/eigen.h"
#include "minima/figures.h"
#include "minima/format.h"
#include "minima/graph_stage.h"
#include "minima/graph_symmetry.h"
#include "minima/idx.h"
#include "minima/landscape.h"
#include "minima/linop.h"
#include "minima/model.h"
#include "minima/net.h"
#include "minima/npy.h"
#include "minima/onnx.h"
#include "minima/plot.h"
#include "minima/reference.h"
#include "minima/reparam.h"
#include "minima/report.h"
#include "minima/rng.h"
#include "minima/safetensors.h"
#include "minima/sharpness.h"
#include "minima/status.h"
#include "minima/symmetry.h"
#include "minima/synthetic.h"
#include "minima/tempfile.h"
#include "minima/theorem.h"
#include "minima/trace.h"
#include "minima/train.h"

#endif
