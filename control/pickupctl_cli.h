/* SPDX-License-Identifier: MIT */
/*
 * pickupctl, the command-line client of pickupd's control socket
 * (docs/control.md, docs/pickupctl.md), as a library: control/pickupctl.c
 * is only main(), and tests/unit/test_pickupctl.c drives the same code.
 *
 *   pickupctl_cli.c     command line -> one request, the whole run
 *   pickupctl_conn.c    one request/response exchange on the UNIX socket
 *   pickupctl_render.c  results -> tables, key-value lines, pretty JSON
 *
 * Single-threaded, not reentrant (getopt_long keeps global state): call
 * these from one thread at a time. Nothing here is used by pickupd itself.
 */
#ifndef PICKUP_CONTROL_PICKUPCTL_CLI_H
#define PICKUP_CONTROL_PICKUPCTL_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <jansson.h>

#include "pickup/engine_conf.h"

/* Exit statuses (docs/pickupctl.md). */
enum pk_ctl_exit {
	PK_CTL_EXIT_OK = 0,
	PK_CTL_EXIT_FAILED = 1,	     /* the daemon answered ok:false */
	PK_CTL_EXIT_USAGE = 2,	     /* bad command line; the daemon was not contacted */
	PK_CTL_EXIT_UNREACHABLE = 3, /* no answer: no socket, refused, timeout, closed */
};

#define PK_CTL_TIMEOUT_MS_DEFAULT 5000
#define PK_CTL_ENV_SOCKET "PICKUPCTL_SOCKET"

/* How a result is shown without --json. */
enum pk_ctl_view {
	PK_CTL_VIEW_KV,	     /* key  value lines (nested objects flattened a.b) */
	PK_CTL_VIEW_STATS,   /* sections: totals and one column per worker */
	PK_CTL_VIEW_METRICS, /* result.text as is */
	PK_CTL_VIEW_CALLS,
	PK_CTL_VIEW_REGS,
	PK_CTL_VIEW_GROUPS,
	PK_CTL_VIEW_NEIGHBOURS,
	PK_CTL_VIEW_RAW, /* the whole response, pretty JSON */
};

/* One parsed invocation. */
struct pk_ctl_inv {
	const char *socket_opt; /* -s PATH, or NULL */
	const char *config_opt; /* -c FILE, or NULL */
	bool json;
	int timeout_ms;
	int worker;		/* stats --worker N; -1: every worker */
	const char *name;	/* the command as typed ("member add") */
	enum pk_ctl_view view;
	json_t *request;	/* {"cmd": ..., "args": {...}}; NULL: nothing to send */
	char save_path[4096];	/* storage for save's absolute path */
};

/*
 * Parse a command line (argv[0] is the program name; argv may be permuted)
 * into inv. Returns PK_CTL_EXIT_OK with inv->request set when there is a
 * request to send, PK_CTL_EXIT_OK with inv->request NULL when --help or
 * --version was printed on out, PK_CTL_EXIT_USAGE after a message on err.
 * Free inv->request with json_decref.
 */
int pk_ctl_parse(int argc, char **argv, struct pk_ctl_inv *inv, FILE *out, FILE *err);

/*
 * The socket path: inv->socket_opt, else the control_socket of the pickupd
 * settings file inv->config_opt, else $PICKUPCTL_SOCKET, else the
 * built-in default of control_socket (control/engine_conf.c). 0, or
 * PK_CTL_EXIT_USAGE after a message on err, or PK_CTL_EXIT_UNREACHABLE
 * when the settings file says `control_socket: none`.
 */
int pk_ctl_socket_resolve(const struct pk_ctl_inv *inv, char *path, size_t size, FILE *err);

/*
 * Connect to the UNIX stream socket at path, send req (one line, '\n'
 * included) and read one response line. Every wait (connect, send, each
 * read) gives up after timeout_ms without progress. 0 with *resp (malloc'd,
 * NUL-terminated, newline removed), or a negative errno with why filled
 * ("connection refused", "no answer within 5 s", ...).
 */
int pk_ctl_transact(const char *path, const char *req, size_t req_len, int timeout_ms,
		    char **resp, char *why, size_t why_size);

/*
 * Show a successful result the way inv asks (table, or --json). Returns an
 * exit status (PK_CTL_EXIT_FAILED after a message on err when the result
 * cannot be shown, e.g. stats --worker of a worker that does not exist).
 */
int pk_ctl_render(const struct pk_ctl_inv *inv, json_t *result, FILE *out, FILE *err);

/* Pretty-print any JSON value (2-space indent, keys in the order received,
 * reals in their shortest exact form), then a newline. */
void pk_ctl_json_print(FILE *out, const json_t *v);

/* The whole run: parse, resolve the socket, exchange, render. Returns the
 * exit status. */
int pk_ctl_cli_main(int argc, char **argv, FILE *out, FILE *err);

#endif /* PICKUP_CONTROL_PICKUPCTL_CLI_H */
