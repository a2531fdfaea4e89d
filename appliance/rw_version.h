/* The one version string of regwalld and regwallctl (--version; the
 * Debian package takes it from here too). */
#ifndef RW_VERSION_H
#define RW_VERSION_H

#define RW_VERSION "0.4.0"

#endif
