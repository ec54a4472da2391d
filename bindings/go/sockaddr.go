package libnbd

/*
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <netinet/in.h>
*/
import "C"

import (
	"net"
	"strconv"
	"strings"
	"unsafe"
)

// cSockaddr is the address of AioConnect as a C struct sockaddr (in C
// memory, which the caller frees) and its length. libnbd's Go binding
// has no way to pass one; this package takes a string:
//
//   - a Unix domain socket: a path starting with "/" or "./", or
//     "unix:" followed by the path;
//   - TCP: "IP:port" with a numeric IPv4 or IPv6 address ("[::1]:10809";
//     a zone is accepted as "[fe80::1%eth0]:10809").
func cSockaddr(op, addr string) (*C.struct_sockaddr, C.socklen_t, error) {
	if path, ok := unixPath(addr); ok {
		var sa C.struct_sockaddr_un
		if len(path) == 0 || len(path) >= len(sa.sun_path) || strings.IndexByte(path, 0) >= 0 {
			return nil, 0, argError(op, "addr", "the Unix socket path is empty, too long or contains a NUL byte")
		}
		p := (*C.struct_sockaddr_un)(calloc(unsafe.Sizeof(sa)))
		p.sun_family = C.AF_UNIX
		for i := 0; i < len(path); i++ {
			p.sun_path[i] = C.char(path[i])
		}
		return (*C.struct_sockaddr)(unsafe.Pointer(p)), C.socklen_t(unsafe.Sizeof(sa)), nil
	}
	host, portText, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, 0, argError(op, "addr", "not a Unix socket path nor IP:port: "+err.Error())
	}
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, 0, argError(op, "addr", "the port is not a number from 0 to 65535")
	}
	zone := ""
	if i := strings.IndexByte(host, '%'); i >= 0 {
		host, zone = host[:i], host[i+1:]
	}
	ip := net.ParseIP(host)
	if ip == nil {
		return nil, 0, argError(op, "addr", "the host is not a numeric IP address")
	}
	if ip4 := ip.To4(); ip4 != nil && zone == "" {
		var sa C.struct_sockaddr_in
		p := (*C.struct_sockaddr_in)(calloc(unsafe.Sizeof(sa)))
		p.sin_family = C.AF_INET
		putPort(unsafe.Pointer(&p.sin_port), port)
		copy(unsafe.Slice((*byte)(unsafe.Pointer(&p.sin_addr)), 4), ip4)
		return (*C.struct_sockaddr)(unsafe.Pointer(p)), C.socklen_t(unsafe.Sizeof(sa)), nil
	}
	var scope uint32
	if zone != "" {
		ifc, err := net.InterfaceByName(zone)
		if err != nil {
			n, perr := strconv.ParseUint(zone, 10, 32)
			if perr != nil {
				return nil, 0, argError(op, "addr", "unknown zone "+zone)
			}
			scope = uint32(n)
		} else {
			scope = uint32(ifc.Index)
		}
	}
	var sa C.struct_sockaddr_in6
	p := (*C.struct_sockaddr_in6)(calloc(unsafe.Sizeof(sa)))
	p.sin6_family = C.AF_INET6
	putPort(unsafe.Pointer(&p.sin6_port), port)
	copy(unsafe.Slice((*byte)(unsafe.Pointer(&p.sin6_addr)), 16), ip.To16())
	p.sin6_scope_id = C.uint32_t(scope)
	return (*C.struct_sockaddr)(unsafe.Pointer(p)), C.socklen_t(unsafe.Sizeof(sa)), nil
}

func unixPath(addr string) (string, bool) {
	if strings.HasPrefix(addr, "unix:") {
		return strings.TrimPrefix(addr, "unix:"), true
	}
	if strings.HasPrefix(addr, "/") || strings.HasPrefix(addr, "./") {
		return addr, true
	}
	return "", false
}

// putPort writes a port in network byte order.
func putPort(p unsafe.Pointer, port uint64) {
	b := unsafe.Slice((*byte)(p), 2)
	b[0] = byte(port >> 8)
	b[1] = byte(port)
}

func calloc(size uintptr) unsafe.Pointer {
	p := C.calloc(1, C.size_t(size))
	if p == nil {
		panic("libnbd: out of memory")
	}
	return p
}
