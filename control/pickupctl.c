/* SPDX-License-Identifier: MIT */
/*
 * pickupctl: the command-line client of pickupd's control socket
 * (docs/pickupctl.md). Everything is in pk_ctl_cli_main (pickupctl_cli.c),
 * which the unit tests drive too; this is only the process around it.
 */
#include <stdio.h>

#include "pickupctl_cli.h"

int main(int argc, char **argv)
{
	return pk_ctl_cli_main(argc, argv, stdout, stderr);
}
