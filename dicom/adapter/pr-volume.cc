/* pr-volume.cc: decoding a series with dcmimgle/dcmimage into a PrVolume.
 *
 * Two passes: headers first (geometry, sizes, frame counts; cheap, stops
 * before the pixel data) so that the slices can be sorted and the array
 * allocated once at its final size; then each file is decoded straight into
 * its slots. The whole series is never held twice in memory.
 */
#include "config.h"

#include "pr-dcmtk-glue.h"
#include "../pr-volume.h"

#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcsequen.h"
#include "dcmtk/dcmimage/diregist.h" /* colour images */
#include "dcmtk/dcmimgle/dcmimage.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct Slot
{
  guint file;                   /* index into paths */
  guint frame;                  /* 0-based within the file */
  std::string uid;
  bool has_position;
  double ipp[3];
  double position;              /* along the normal */
};

struct FileInfo
{
  guint rows, columns, samples, frames;
  bool has_orientation;
  double iop[6];
  double pixel_spacing[2];      /* row spacing, column spacing */
  bool has_spacing;
  double slice_thickness;
  double slope, intercept;      /* from the data set or shared functional groups */
  bool rescale;
};


bool
get_doubles (DcmItem *item, const DcmTagKey &key, double *out, int n)
{
  if (item == NULL)
    return false;
  for (int i = 0; i < n; i++)
    {
      Float64 v;
      if (item->findAndGetFloat64 (key, v, (unsigned long) i).bad ())
        return false;
      out[i] = v;
    }
  return true;
}

/* The first item of @sequence inside @item, or NULL. */
DcmItem *
first_item (DcmItem *item, const DcmTagKey &sequence)
{
  DcmItem *found = NULL;
  if (item == NULL || item->findAndGetSequenceItem (sequence, found, 0).bad ())
    return NULL;
  return found;
}

/* A functional group macro for frame @frame: per-frame first, then shared. */
DcmItem *
functional_group (DcmDataset *ds, guint frame, const DcmTagKey &macro)
{
  DcmItem *per_frame = NULL;
  if (ds->findAndGetSequenceItem (DCM_PerFrameFunctionalGroupsSequence, per_frame, (signed long) frame).good ())
    if (DcmItem *found = first_item (per_frame, macro))
      return found;
  return first_item (first_item (ds, DCM_SharedFunctionalGroupsSequence), macro);
}

void
cross (const double *a, const double *b, double *out)
{
  out[0] = a[1] * b[2] - a[2] * b[1];
  out[1] = a[2] * b[0] - a[0] * b[2];
  out[2] = a[0] * b[1] - a[1] * b[0];
}

double
dot (const double *a, const double *b)
{
  return a[0] * b[0] + a[1] * b[1] + a[2] * b[2];
}

gboolean
read_headers (const char *const *paths, guint n_paths, std::vector<FileInfo> &files, std::vector<Slot> &slots,
              GError **error)
{
  for (guint f = 0; f < n_paths; f++)
    {
      DcmFileFormat ff;
      OFCondition cond = ff.loadFileUntilTag (paths[f], EXS_Unknown, EGL_noChange, 4096, ERM_autoDetect, DCM_PixelData);
      if (cond.bad ())
        {
          g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_PARSE, "%s: %s", paths[f], cond.text ());
          return FALSE;
        }
      DcmDataset *ds = ff.getDataset ();
      FileInfo info = {};
      Uint16 u16 = 0;
      ds->findAndGetUint16 (DCM_Rows, u16);
      info.rows = u16;
      ds->findAndGetUint16 (DCM_Columns, u16);
      info.columns = u16;
      u16 = 1;
      ds->findAndGetUint16 (DCM_SamplesPerPixel, u16);
      info.samples = u16 == 3 ? 3 : 1;
      Sint32 frames = 1;
      ds->findAndGetSint32 (DCM_NumberOfFrames, frames);
      info.frames = frames > 0 ? (guint) frames : 1;
      if (info.rows == 0 || info.columns == 0)
        {
          g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "%s has no image (Rows or Columns missing)",
                       paths[f]);
          return FALSE;
        }

      info.has_orientation = get_doubles (ds, DCM_ImageOrientationPatient, info.iop, 6) ||
                             get_doubles (functional_group (ds, 0, DCM_PlaneOrientationSequence),
                                          DCM_ImageOrientationPatient, info.iop, 6);
      /* Projection images and photographs say ImagerPixelSpacing, if anything. */
      info.has_spacing =
        get_doubles (ds, DCM_PixelSpacing, info.pixel_spacing, 2) ||
        get_doubles (functional_group (ds, 0, DCM_PixelMeasuresSequence), DCM_PixelSpacing, info.pixel_spacing, 2) ||
        get_doubles (ds, DCM_ImagerPixelSpacing, info.pixel_spacing, 2);
      if (!info.has_spacing)
        info.pixel_spacing[0] = info.pixel_spacing[1] = 1.0;
      info.slice_thickness = 0;
      if (!get_doubles (ds, DCM_SliceThickness, &info.slice_thickness, 1))
        get_doubles (functional_group (ds, 0, DCM_PixelMeasuresSequence), DCM_SliceThickness, &info.slice_thickness, 1);
      info.slope = 1.0;
      info.intercept = 0.0;
      info.rescale = get_doubles (ds, DCM_RescaleSlope, &info.slope, 1) |
                     get_doubles (ds, DCM_RescaleIntercept, &info.intercept, 1);
      if (!info.rescale)
        {
          DcmItem *t = functional_group (ds, 0, DCM_PixelValueTransformationSequence);
          info.rescale = get_doubles (t, DCM_RescaleSlope, &info.slope, 1) |
                         get_doubles (t, DCM_RescaleIntercept, &info.intercept, 1);
        }

      const char *uid = NULL;
      ds->findAndGetString (DCM_SOPInstanceUID, uid);
      for (guint frame = 0; frame < info.frames; frame++)
        {
          Slot s = {};
          s.file = f;
          s.frame = frame;
          s.uid = uid ? uid : "";
          s.has_position = info.frames == 1 ? get_doubles (ds, DCM_ImagePositionPatient, s.ipp, 3) : false;
          if (!s.has_position)
            s.has_position = get_doubles (functional_group (ds, frame, DCM_PlanePositionSequence),
                                          DCM_ImagePositionPatient, s.ipp, 3);
          slots.push_back (s);
        }
      files.push_back (info);
    }
  return TRUE;
}

gboolean
check_consistent (const char *const *paths, const std::vector<FileInfo> &files, GError **error)
{
  const FileInfo &first = files[0];
  for (size_t i = 1; i < files.size (); i++)
    {
      const FileInfo &f = files[i];
      if (f.rows != first.rows || f.columns != first.columns || f.samples != first.samples)
        {
          g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID,
                       "%s is %ux%u, the series' first image %ux%u: not one volume", paths[i], f.columns, f.rows,
                       first.columns, first.rows);
          return FALSE;
        }
      if (first.has_orientation && f.has_orientation)
        for (int k = 0; k < 6; k++)
          if (std::fabs (f.iop[k] - first.iop[k]) > 1e-3)
            {
              g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID,
                           "%s has another orientation than the series' first image: not one volume", paths[i]);
              return FALSE;
            }
    }
  return TRUE;
}

void
fill_geometry (PrVolume *v, const FileInfo &first, std::vector<Slot> &slots, bool sort)
{
  double row[3] = { 1, 0, 0 }, column[3] = { 0, 1, 0 };
  if (first.has_orientation)
    {
      memcpy (row, first.iop, sizeof row);
      memcpy (column, first.iop + 3, sizeof column);
    }
  double normal[3];
  cross (row, column, normal);
  memcpy (v->row_direction, row, sizeof row);
  memcpy (v->column_direction, column, sizeof column);
  memcpy (v->normal, normal, sizeof normal);
  /* PixelSpacing is (between rows, between columns); ours is (x, y). */
  v->spacing[0] = first.pixel_spacing[1];
  v->spacing[1] = first.pixel_spacing[0];
  if (!first.has_spacing)
    v->flags |= PR_VOLUME_SPACING_UNKNOWN;

  bool positioned = std::all_of (slots.begin (), slots.end (), [] (const Slot &s) { return s.has_position; });
  for (auto &s : slots)
    s.position = positioned ? dot (s.ipp, normal) : 0.0;
  if (positioned && sort)
    std::stable_sort (slots.begin (), slots.end (),
                      [] (const Slot &a, const Slot &b) { return a.position < b.position; });
  if (positioned)
    memcpy (v->origin, slots[0].ipp, sizeof v->origin);

  v->spacing[2] = first.slice_thickness > 0 ? first.slice_thickness : 1.0;
  if (slots.size () == 1)
    v->flags |= PR_VOLUME_SINGLE_IMAGE;
  if (!positioned || slots.size () < 2)
    return;

  double total = slots.back ().position - slots.front ().position;
  double mean = total / (double) (slots.size () - 1);
  if (mean > 0)
    v->spacing[2] = mean;
  for (size_t i = 1; i < slots.size (); i++)
    {
      double step = slots[i].position - slots[i - 1].position;
      if (std::fabs (step - mean) > std::max (0.01 * mean, 0.01))
        v->flags |= PR_VOLUME_UNEVEN_SPACING;
      double d[3] = { slots[i].ipp[0] - slots[i - 1].ipp[0], slots[i].ipp[1] - slots[i - 1].ipp[1],
                      slots[i].ipp[2] - slots[i - 1].ipp[2] };
      double length = std::sqrt (dot (d, d));
      /* more than about a degree off the normal: the slices are sheared */
      if (length > 1e-6 && std::fabs (dot (d, normal)) / length < 0.9998)
        v->flags |= PR_VOLUME_TILTED;
    }
}

template <typename T>
void
copy_plane (const T *data, float *out, size_t count, bool rescale, double slope, double intercept)
{
  for (size_t i = 0; i < count; i++)
    out[i] = rescale ? (float) (data[i] * slope + intercept) : (float) data[i];
}

gboolean
decode_file (const char *path, const FileInfo &info, const std::vector<std::pair<guint, float *>> &targets,
             GError **error)
{
  DcmFileFormat ff;
  OFCondition cond = ff.loadFile (path);
  if (cond.bad ())
    return pr_set_error_from_condition (error, PR_DICOM_ERROR_PARSE, cond, path);
  E_TransferSyntax xfer = ff.getDataset ()->getOriginalXfer ();
  /* DCMTK keeps pixel values in integers; a fractional rescale slope would
   * be rounded away, so we apply it ourselves in floating point. */
  bool own_rescale = info.samples == 1 && info.rescale && (info.slope != std::floor (info.slope) ||
                                                           info.intercept != std::floor (info.intercept));
  unsigned long flags = CIF_DecompressCompletePixelData | (own_rescale ? CIF_IgnoreModalityTransformation : 0);
  DicomImage image (&ff, xfer, flags);
  if (image.getStatus () != EIS_Normal)
    {
      g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED, "%s: cannot decode the image: %s", path,
                   DicomImage::getString (image.getStatus ()));
      return FALSE;
    }
  size_t plane = (size_t) info.rows * info.columns;
  for (const auto &target : targets)
    {
      guint frame = target.first;
      float *out = target.second;
      if (info.samples == 3)
        {
          const Uint8 *rgb = (const Uint8 *) image.getOutputData (8, frame, 0);
          if (rgb == NULL)
            {
              g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED, "%s: frame %u cannot be rendered", path,
                           frame + 1);
              return FALSE;
            }
          for (size_t i = 0; i < plane * 3; i++)
            out[i] = rgb[i];
          continue;
        }
      const DiPixel *inter = image.getInterData ();
      if (inter == NULL || inter->getCount () < plane * (frame + 1))
        {
          g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED, "%s: no pixel data for frame %u", path, frame + 1);
          return FALSE;
        }
      size_t offset = plane * frame;
      const void *data = inter->getData ();
      switch (inter->getRepresentation ())
        {
        case EPR_Uint8:
          copy_plane ((const Uint8 *) data + offset, out, plane, own_rescale, info.slope, info.intercept);
          break;
        case EPR_Sint8:
          copy_plane ((const Sint8 *) data + offset, out, plane, own_rescale, info.slope, info.intercept);
          break;
        case EPR_Uint16:
          copy_plane ((const Uint16 *) data + offset, out, plane, own_rescale, info.slope, info.intercept);
          break;
        case EPR_Sint16:
          copy_plane ((const Sint16 *) data + offset, out, plane, own_rescale, info.slope, info.intercept);
          break;
        case EPR_Uint32:
          copy_plane ((const Uint32 *) data + offset, out, plane, own_rescale, info.slope, info.intercept);
          break;
        case EPR_Sint32:
          copy_plane ((const Sint32 *) data + offset, out, plane, own_rescale, info.slope, info.intercept);
          break;
        }
    }
  return TRUE;
}

} /* namespace */

extern "C" void
pr_volume_free (PrVolume *v)
{
  if (v == NULL)
    return;
  g_free (v->voxels);
  g_free (v->slice_positions);
  g_strfreev (v->slice_instances);
  g_free (v->slice_frames);
  g_free (v);
}

static PrVolume *
load (const char *const *paths, guint n_paths, guint64 max_voxels, bool sort, GError **error)
{
  if (n_paths == 0)
    {
      g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID, "the series has no instances");
      return NULL;
    }
  PR_DCMTK_GUARD (error, NULL, {
    pr_register_decoders_once ();
    std::vector<FileInfo> files;
    std::vector<Slot> slots;
    if (!read_headers (paths, n_paths, files, slots, error) || !check_consistent (paths, files, error))
      return NULL;

    const FileInfo &first = files[0];
    guint64 voxels = (guint64) first.rows * first.columns * slots.size ();
    if (max_voxels > 0 && voxels > max_voxels)
      {
        g_set_error (error, PR_DICOM_ERROR, PR_DICOM_ERROR_INVALID,
                     "the series has %" G_GUINT64_FORMAT " voxels, more than the %" G_GUINT64_FORMAT " allowed",
                     voxels, max_voxels);
        return NULL;
      }
    size_t plane = (size_t) first.rows * first.columns * first.samples;
    float *data = (float *) g_try_malloc (plane * slots.size () * sizeof (float));
    if (data == NULL)
      {
        g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_NOMEM, "not enough memory for %zu slices of %ux%u",
                     slots.size (), first.columns, first.rows);
        return NULL;
      }

    g_autoptr (PrVolume) v = g_new0 (PrVolume, 1);
    v->voxels = data;
    v->columns = first.columns;
    v->rows = first.rows;
    v->slices = (guint) slots.size ();
    v->samples_per_pixel = first.samples;
    fill_geometry (v, first, slots, sort);

    v->slice_positions = g_new (double, slots.size ());
    v->slice_instances = g_new0 (char *, slots.size () + 1);
    v->slice_frames = g_new (guint, slots.size ());
    std::vector<std::vector<std::pair<guint, float *>>> per_file (n_paths);
    for (size_t i = 0; i < slots.size (); i++)
      {
        v->slice_positions[i] = slots[i].position;
        v->slice_instances[i] = g_strdup (slots[i].uid.c_str ());
        v->slice_frames[i] = files[slots[i].file].frames > 1 ? slots[i].frame + 1 : 0;
        per_file[slots[i].file].push_back (std::make_pair (slots[i].frame, data + plane * i));
      }
    for (guint f = 0; f < n_paths; f++)
      if (!decode_file (paths[f], files[f], per_file[f], error))
        return NULL;
    return g_steal_pointer (&v);
  })
}

extern "C" PrVolume *
pr_volume_load (const char *const *paths, guint n_paths, guint64 max_voxels, GError **error)
{
  return load (paths, n_paths, max_voxels, true, error);
}

extern "C" PrVolume *
pr_volume_load_frames (const char *path, guint64 max_voxels, GError **error)
{
  const char *paths[] = { path, NULL };
  return load (paths, 1, max_voxels, false, error);
}
