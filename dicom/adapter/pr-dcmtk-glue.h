/* pr-dcmtk-glue.h: the one wall between DCMTK (C++) and the C world.
 *
 * Internal to dicom/adapter/. Every extern "C" entry point of the adapter
 * converts OFCondition and C++ exceptions into GError here, so nothing
 * thrown or returned by DCMTK leaks past dicom/.
 */
#pragma once

#include "dcmtk/config/osconfig.h"
#include "dcmtk/ofstd/ofcond.h"
#include "dcmtk/ofstd/ofstring.h"

#include <glib.h>
#include <glib/gstdio.h>

#include "../pr-dicom.h"

/* Sets @error from a bad OFCondition, prefixed with what we were doing.
 * Always returns FALSE so callers can `return pr_set_error_from_condition (...)`. */
gboolean pr_set_error_from_condition (GError **error, PrDicomError code,
                                      const OFCondition &cond, const char *what);

/* Copies @value into @out (size @out_size) replacing bytes that would upset a
 * log line or a terminal (control characters, non-ASCII) with '?'. */
void pr_copy_printable (char *out, gsize out_size, const char *value);

/* Registers DCMTK's decoders (RLE, JPEG, JPEG-LS) once per process. */
void pr_register_decoders_once (void);

/* Trimmed, UTF-8-valid copy of a DICOM string value; NULL when empty. */
char *pr_dup_value (const char *value);

/* Runs the statements given last, turning any C++ exception into @error and
 * returning @fallback. Variadic so that commas in the body need no parentheses. */
#define PR_DCMTK_GUARD(error, fallback, ...)                                          \
  try                                                                                  \
    {                                                                                  \
      __VA_ARGS__                                                                      \
    }                                                                                  \
  catch (const std::bad_alloc &)                                                       \
    {                                                                                  \
      g_set_error_literal ((error), G_FILE_ERROR, G_FILE_ERROR_NOMEM,                  \
                           "out of memory in DCMTK");                                  \
      return (fallback);                                                               \
    }                                                                                  \
  catch (const std::exception &e)                                                      \
    {                                                                                  \
      g_set_error ((error), PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED,                     \
                   "DCMTK raised an exception: %s", e.what ());                        \
      return (fallback);                                                               \
    }                                                                                  \
  catch (...)                                                                          \
    {                                                                                  \
      g_set_error_literal ((error), PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED,             \
                           "DCMTK raised an unknown exception");                       \
      return (fallback);                                                               \
    }
