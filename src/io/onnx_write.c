/* onnx_write.c — a minima model as an ONNX file (minima/onnx.h). */
#include "minima/onnx.h"

minima_status minima_model_save_onnx(const minima_model *model, const char *path, minima_dtype dtype)
{
    (void)model;
    (void)dtype;
    MINIMA_FAIL(MINIMA_EUNSUPPORTED, "cannot save '%s': writing ONNX is not implemented yet", path);
}
