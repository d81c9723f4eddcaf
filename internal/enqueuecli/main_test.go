package enqueuecli

import (
	"testing"

	"github.com/vendorq/vendorq/internal/redistest"
)

// testRedis is this package's throwaway redis-server.
var testRedis *redistest.Server

func TestMain(m *testing.M) { redistest.Main(m, &testRedis) }
