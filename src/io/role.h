/*
 * role.h - which end of a tunnel a daemon is.
 */
#ifndef LULL_IO_ROLE_H
#define LULL_IO_ROLE_H

enum tunnel_role {
	ROLE_SERVER = 1,
	ROLE_CLIENT = 2,
};

#endif /* LULL_IO_ROLE_H */
