package main

import "unsafe"

func unsafePointer(p *pollFd) unsafe.Pointer { return unsafe.Pointer(p) }
