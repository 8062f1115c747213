//! The sampler flags that `compare` and `bench` share: `--sampler`, `--fanout`, `--batch-size`.

use anyhow::Result;
use clap::Args;
use gdistill_distill::sampled::SamplerConfig;
use gdistill_models::BlockNorm;

#[derive(Args, Clone, Debug, Default)]
pub struct SamplerArgs {
    /// Training of the graph models: full (full-batch) or neighbor (sampled mini-batches).
    #[arg(long, value_enum)]
    pub sampler: Option<SamplerArg>,
    /// Neighbours sampled per node at each hop, nearest hop first (e.g. 15,10; 'all' takes every one).
    #[arg(long, value_name = "LIST")]
    pub fanout: Option<String>,
    /// Seed nodes per sampled batch (default: 512, or every training node when fewer).
    #[arg(long, value_name = "N")]
    pub batch_size: Option<usize>,
    /// Values of a sampled GCN block: unbiased (full-graph values rescaled by degree over
    /// sampled count, the default) or block (GCN's normalisation recomputed on the block, as
    /// PyTorch Geometric's GCNConv does on a NeighborLoader's subgraph).
    #[arg(long, value_name = "unbiased|block")]
    pub block_norm: Option<BlockNorm>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum SamplerArg {
    Full,
    Neighbor,
}

impl SamplerArgs {
    /// The flags given, by name, for commands that refuse them.
    pub fn given(&self) -> [(&'static str, bool); 4] {
        [
            ("--sampler", self.sampler.is_some()),
            ("--fanout", self.fanout.is_some()),
            ("--batch-size", self.batch_size.is_some()),
            ("--block-norm", self.block_norm.is_some()),
        ]
    }

    /// `current` (from defaults or a config file) overlaid with the flags: `--sampler full`
    /// drops it, `--fanout` and `--batch-size` change it and need a sampler to change. A new
    /// sampler takes 15,10 and `min(512, train_nodes)` where no flag says otherwise.
    pub fn resolve(&self, current: Option<SamplerConfig>, train_nodes: usize) -> Result<Option<SamplerConfig>> {
        let tuning = self.fanout.is_some() || self.batch_size.is_some() || self.block_norm.is_some();
        let needs = "--fanout, --batch-size and --block-norm need --sampler neighbor";
        match self.sampler {
            Some(SamplerArg::Full) if tuning => anyhow::bail!(needs),
            Some(SamplerArg::Full) => return Ok(None),
            None if !tuning => return Ok(current),
            None if current.is_none() => anyhow::bail!(needs),
            _ => {}
        }
        let fanouts = match &self.fanout {
            Some(text) => SamplerConfig::parse_fanouts(text).map_err(anyhow::Error::msg)?,
            None => current.as_ref().map_or_else(|| vec![15, 10], |s| s.fanouts.clone()),
        };
        let norm = self.block_norm.or(current.as_ref().map(|s| s.norm)).unwrap_or_default();
        let batch_size =
            self.batch_size.or(current.map(|s| s.batch_size)).unwrap_or_else(|| 512.min(train_nodes.max(1)));
        Ok(Some(SamplerConfig { fanouts, batch_size, norm }))
    }
}
