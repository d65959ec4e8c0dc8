// Command pause is the sandbox ("pause") container of the local node's pods (issue 7): it holds
// the pod's namespaces, reaps orphaned children when it is PID 1 of a shared PID namespace, and
// exits 0 on SIGTERM or SIGINT. Built here (CGO_ENABLED=0, static), never pulled.
package main

import (
	"os"
	"os/signal"
	"syscall"
)

func main() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT, syscall.SIGCHLD)
	for sig := range signals {
		if sig != syscall.SIGCHLD {
			os.Exit(0)
		}
		for {
			pid, err := syscall.Wait4(-1, nil, syscall.WNOHANG, nil)
			if pid <= 0 || err != nil {
				break
			}
		}
	}
}
