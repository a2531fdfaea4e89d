#ifndef RW_INSPECT_H
#define RW_INSPECT_H
/* The three-way answer of every inspect/ parser: the data path can act on
 * it without knowing the protocol (wait for bytes, proceed, or refuse). */
enum rw_inspect_result {
	RW_INSPECT_OK = 0,   /* complete and acceptable; details in the out struct */
	RW_INSPECT_MORE,     /* need more bytes; feed them and call again */
	RW_INSPECT_REFUSE,   /* refuse; the reason code is in the out struct */
};
#endif
