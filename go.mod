module github.com/skyvern-go/skyvern

go 1.23

require (
	github.com/lib/pq v1.12.3
	github.com/stretchr/testify v1.12.1
)

require go.yaml.in/yaml/v3 v3.0.5 // indirect
