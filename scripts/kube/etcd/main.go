// Command etcd: the etcd server of go.etcd.io/etcd/server/v3, built from the Go module proxy
// (the etcd module's own main package lives in a module that is not published).
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
