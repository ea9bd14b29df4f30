// The etcd server, built from its published module: the repository's own
// main package lives in a module whose go.mod replaces its parts with local
// directories, so it cannot be built from the module proxy as it is.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() { etcdmain.Main(os.Args) }
