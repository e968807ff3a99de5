/* pr-dcmtk-glue.cc: error conversion, log bridge and process setup for DCMTK. */
#include "config.h"

#include "pr-dcmtk-glue.h"

#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmdata/dctag.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmnet/dul.h"
#include "dcmtk/oflog/oflog.h"
#include "dcmtk/oflog/appender.h"
#include "dcmtk/oflog/spi/logevent.h"

#include <cstdlib>
#include <cstdio>
#include <cstring>
#include <new>
#include <exception>

G_DEFINE_QUARK (preread-dicom-error-quark, pr_dicom_error)

gboolean
pr_set_error_from_condition (GError **error, PrDicomError code,
                             const OFCondition &cond, const char *what)
{
  g_set_error (error, PR_DICOM_ERROR, code, "%s: %s", what, cond.text ());
  return FALSE;
}

void
pr_register_decoders_once (void)
{
  static gsize done = 0;
  if (g_once_init_enter (&done))
    {
      DcmRLEDecoderRegistration::registerCodecs ();
      DJDecoderRegistration::registerCodecs ();
      DJLSDecoderRegistration::registerCodecs ();
      g_once_init_leave (&done, 1);
    }
}

void
pr_copy_printable (char *out, gsize out_size, const char *value)
{
  gsize i = 0;
  if (out_size == 0)
    return;
  for (; value != NULL && value[i] != '\0' && i + 1 < out_size; i++)
    {
      unsigned char c = (unsigned char) value[i];
      out[i] = (c >= 0x20 && c < 0x7f) ? (char) c : '?';
    }
  out[i] = '\0';
}

char *
pr_dup_value (const char *value)
{
  if (value == NULL)
    return NULL;
  /* DICOM pads with spaces (and UIDs with NUL); neither is part of the value. */
  while (*value == ' ')
    value++;
  gsize len = strlen (value);
  while (len > 0 && (value[len - 1] == ' ' || value[len - 1] == '\0'))
    len--;
  if (len == 0)
    return NULL;
  return g_utf8_make_valid (value, (gssize) len);
}

/* DCMTK logs through its own log4cplus copy; forward it into g_log so the
 * daemon has one log stream with one format. */
class PrGLogAppender : public dcmtk::log4cplus::Appender
{
public:
  PrGLogAppender () {}
  ~PrGLogAppender () override { destructorImpl (); }
  void close () override {}

protected:
  void append (const dcmtk::log4cplus::spi::InternalLoggingEvent &event) override
  {
    GLogLevelFlags level;
    int ll = event.getLogLevel ();
    /* DCMTK's errors are mostly about what a peer sent: worth a warning, not
     * a critical. Its warnings are routine (e.g. "skipping rest of dataset"
     * when we read headers only) and show with --verbose. */
    if (ll >= dcmtk::log4cplus::ERROR_LOG_LEVEL)
      level = G_LOG_LEVEL_WARNING;
    else if (ll >= dcmtk::log4cplus::WARN_LOG_LEVEL)
      level = G_LOG_LEVEL_INFO;
    else if (ll >= dcmtk::log4cplus::INFO_LOG_LEVEL)
      level = G_LOG_LEVEL_INFO;
    else
      level = G_LOG_LEVEL_DEBUG;
    g_log ("preread-dcmtk", level, "%s", event.getMessage ().c_str ());
  }
};

static dcmtk::log4cplus::LogLevel
dcmtk_log_level_from_environment (void)
{
  const char *wanted = g_getenv ("PREREAD_DCMTK_LOG");
  if (wanted == NULL)
    return dcmtk::log4cplus::WARN_LOG_LEVEL;
  if (g_ascii_strcasecmp (wanted, "trace") == 0)
    return dcmtk::log4cplus::TRACE_LOG_LEVEL;
  if (g_ascii_strcasecmp (wanted, "debug") == 0)
    return dcmtk::log4cplus::DEBUG_LOG_LEVEL;
  if (g_ascii_strcasecmp (wanted, "info") == 0)
    return dcmtk::log4cplus::INFO_LOG_LEVEL;
  return dcmtk::log4cplus::WARN_LOG_LEVEL;
}

extern "C" gboolean
pr_dicom_init (GError **error)
{
  PR_DCMTK_GUARD (error, FALSE, {
    /* DCMTK's dul.cc reads TCP_NODELAY from the environment for every socket
     * it accepts or connects; we also set it on sockets we accept ourselves. */
    g_setenv ("TCP_NODELAY", "1", TRUE);
    dcmDisableGethostbyaddr.set (OFTrue);
    /* A real A-ASSOCIATE-RQ is a few kilobytes; refuse anything that claims
     * more than 256 KiB before allocating for it. */
    dcmAssociatePDUSizeLimit.set (256 * 1024);

    dcmtk::log4cplus::Logger root = dcmtk::log4cplus::Logger::getRoot ();
    root.removeAllAppenders ();
    root.addAppender (dcmtk::log4cplus::SharedAppenderPtr (new PrGLogAppender ()));
    root.setLogLevel (dcmtk_log_level_from_environment ());

    if (!dcmDataDict.isDictionaryLoaded ())
      {
        g_set_error_literal (error, PR_DICOM_ERROR, PR_DICOM_ERROR_FAILED,
                             "the DICOM data dictionary is not loaded "
                             "(check DCMDICTPATH or the dcmtk installation)");
        return FALSE;
      }
    return TRUE;
  })
}

extern "C" const char *
pr_dicom_uid_name (const char *uid)
{
  return dcmFindNameOfUID (uid, uid);
}

extern "C" gboolean
pr_dicom_is_storage_sop_class (const char *uid)
{
  return uid != NULL && dcmIsaStorageSOPClassUID (uid, ESSC_All);
}

extern "C" gboolean
pr_dicom_is_known_transfer_syntax (const char *uid)
{
  return uid != NULL && DcmXfer (uid).getXfer () != EXS_Unknown;
}

extern "C" gboolean
pr_dicom_attribute_to_tag (const char *name, guint32 *tag)
{
  if (name == NULL)
    return FALSE;
  unsigned int group = 0, element = 0;
  char tail = 0;
  guint32 value;
  if (sscanf (name, "%4x,%4x%c", &group, &element, &tail) == 2 && strlen (name) == 9)
    value = (group << 16) | element;
  else
    {
      DcmTag found;
      if (DcmTag::findTagFromName (name, found).bad ())
        return FALSE;
      value = ((guint32) found.getGroup () << 16) | found.getElement ();
    }
  if (tag != NULL)
    *tag = value;
  return TRUE;
}
