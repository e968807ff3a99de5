/* pr-image-render.cc: DicomImage to 8-bit RGB. */
#include "config.h"

#include "pr-dcmtk-glue.h"
#include "../pr-image-render.h"

#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmimage/diregist.h" /* colour images */
#include "dcmtk/dcmimgle/dcmimage.h"

#include <cstring>

extern "C" guint8 *
pr_image_render (const char *path, guint frame, const PrWindow *window, guint *width, guint *height, GError **error)
{
  PR_DCMTK_GUARD (error, NULL, {
    pr_register_decoders_once ();
    DcmFileFormat file;
    OFCondition cond = file.loadFile (path);
    if (cond.bad ())
      {
        pr_set_error_from_condition (error, PR_DICOM_ERROR_PARSE, cond, path);
        return NULL;
      }
    Uint32 first = frame > 0 ? frame - 1 : 0;
    DicomImage image (&file, file.getDataset ()->getOriginalXfer (), CIF_UsePartialAccessToPixelData, first, 1);
    if (image.getStatus () != EIS_Normal)
      {
        g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED, "%s: cannot render: %s", path,
                     DicomImage::getString (image.getStatus ()));
        return NULL;
      }
    gsize w = image.getWidth (), h = image.getHeight ();
    guint8 *rgb = (guint8 *) g_try_malloc (w * h * 3);
    if (rgb == NULL)
      {
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "%s: no memory for a %zux%zu image", path, w, h);
        return NULL;
      }
    if (image.isMonochrome ())
      {
        if (window != NULL && window->set)
          image.setWindow (window->center, window->width);
        else if (image.getWindowCount () > 0)
          image.setWindow (0);
        else
          image.setMinMaxWindow ();
        const Uint8 *gray = (const Uint8 *) image.getOutputData (8, 0, 0);
        if (gray == NULL)
          {
            g_free (rgb);
            g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED, "%s: no output pixels", path);
            return NULL;
          }
        for (gsize i = 0; i < w * h; i++)
          rgb[3 * i] = rgb[3 * i + 1] = rgb[3 * i + 2] = gray[i];
      }
    else
      {
        const Uint8 *colour = (const Uint8 *) image.getOutputData (8, 0, 0 /* interleaved */);
        if (colour == NULL)
          {
            g_free (rgb);
            g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED, "%s: no output pixels", path);
            return NULL;
          }
        memcpy (rgb, colour, w * h * 3);
      }
    *width = (guint) w;
    *height = (guint) h;
    return rgb;
  })
}
