// Command realgraph imports a handful of popular libraries so that its
// module graph is a realistic one for modproxy's real-upstream tests
// (tests/e2e/real_*.sh). It is built, never run. go.mod and go.sum were
// written by the real go command (go 1.26: go mod tidy, go get go@1.24.0
// toolchain@none, then go mod download all, which adds the sums of every
// module in the graph), so that they hold what the checksum database says.
package main

import (
	"fmt"

	"github.com/gin-gonic/gin"
	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/redis/go-redis/v9"
	"github.com/spf13/cobra"
	"github.com/spf13/viper"
	"github.com/stretchr/testify/assert"
	"go.opentelemetry.io/otel"
	"go.uber.org/zap"
	"golang.org/x/sync/errgroup"
	"google.golang.org/grpc"
	"gopkg.in/yaml.v3"
)

func main() {
	var g errgroup.Group
	g.Go(func() error { return nil })
	_ = g.Wait()
	out, _ := yaml.Marshal(map[string]string{"id": uuid.NewString()})
	pg, _ := pgx.ParseConfig("postgres://127.0.0.1/realgraph")
	fmt.Println(
		(&cobra.Command{Use: "realgraph"}).Use,
		viper.New().AllKeys(),
		gin.New() != nil,
		echo.New() != nil,
		prometheus.NewCounter(prometheus.CounterOpts{Name: "realgraph_runs_total"}) != nil,
		redis.NewClient(&redis.Options{Addr: "127.0.0.1:0"}) != nil,
		grpc.NewServer() != nil,
		otel.Tracer("realgraph") != nil,
		zap.NewNop() != nil,
		assert.ObjectsAreEqual(1, 1),
		pg != nil,
		len(out) > 0,
	)
}
