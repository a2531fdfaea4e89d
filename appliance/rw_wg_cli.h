/* regwallctl's peer commands: the command line into a request, the
 * answer into text (the client's wg-quick config, or it as a terminal QR
 * code through libqrencode, as `qrencode -t ansiutf8` draws it). */
#ifndef RW_WG_CLI_H
#define RW_WG_CLI_H

#include <jansson.h>
#include <stdio.h>

/* argv[0] is "peer". Fills req; 0 on a usage error. */
int rw_wg_cli_build(int argc, char **argv, json_t *req, int *qr, int *json);
/* Prints a peer answer; 0 when rep is not one. */
int rw_wg_cli_print(json_t *rep, int qr, FILE *out);
/* text as a QR code of half-height blocks (two modules per character). */
int rw_wg_cli_qr(const char *text, FILE *out);

#define RW_WG_CLI_USAGE \
	"  peer add NAME --roles ROLE[,ROLE...] [--public-key KEY] [--address ADDR] [--qr]\n" \
	"                              a VPN peer (live); without --public-key a key\n" \
	"                              pair is made and the client's wg-quick config\n" \
	"                              printed once (--qr: as a QR code)\n" \
	"  peer del NAME               remove a live peer: key, address, connections\n" \
	"  peer list [--json]          peers, roles, last handshake, bytes, endpoint\n"

#endif
