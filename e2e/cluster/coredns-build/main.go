// Cluster DNS of the local node (node-up.sh): CoreDNS with only the plugins its Corefile uses,
// instead of CoreDNS's own main, which links every plugin (cloud DNS providers and their SDKs,
// dnstap, geoip, ...) and took 16 minutes to build from an empty Go build cache here.
package main

import (
	"github.com/coredns/coredns/coremain"

	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/health"
	_ "github.com/coredns/coredns/plugin/kubernetes"
)

func main() {
	coremain.Run()
}
