package main

import "context"

type pipelineResult struct{}

func (b *bench) measurePipeline(ctx context.Context) section { return section{} }
