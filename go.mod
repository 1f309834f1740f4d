module github.com/skyvern-go/skyvern

go 1.23
