//! Ensembles of different teacher families (`[ensemble] families = ["gcn", "sage", "gat"]`):
//! their soft targets against a hand computation, each member against its family's teacher
//! trained alone, the parameter count against the layer formulas, and the families a
//! comparison refuses before anything trains.

use gdistill_datasets::NodeDataset;
use gdistill_distill::compare::{compare, CompareConfig, CompareReport};
use gdistill_distill::ensemble::{member_seed, Ensemble, EnsembleCombine, EnsembleConfig, EnsembleMembers};
use gdistill_distill::sampled::SamplerConfig;
use gdistill_distill::{FeatureLayout, GraphData, Selection};
use gdistill_models::{Arch, NodeModel};
use tch::{nn, Device, Kind, Tensor};

// Tests here compare passes that draw from libtorch's global generator.
#[path = "../../tests/support/torch_rng.rs"]
mod torch_rng;

/// 12 features, 3 classes: small enough that every family trains in a second.
fn dataset() -> NodeDataset {
    gdistill_datasets::load("csbm:nodes=200,classes=3,degree=5,features=12,signal=2,seed=8", std::path::Path::new("."))
        .unwrap()
}

fn tiny(dataset: &NodeDataset, family: Arch) -> CompareConfig {
    let mut config = CompareConfig::for_family(dataset, family);
    config.seeds = 1;
    config.first_seed = 3;
    config.lsp.rows = false;
    config.prune.rows = false;
    config.teacher_training.epochs = 15;
    config.student_training.epochs = 5;
    config.distill_training.epochs = 5;
    config
}

fn mixed(families: &[Arch]) -> Option<EnsembleConfig> {
    Some(EnsembleConfig { families: families.to_vec(), ..EnsembleConfig::of_size(0, EnsembleCombine::SoftTargets) })
}

fn run(dataset: &NodeDataset, config: &CompareConfig) -> CompareReport {
    tch::set_num_threads(1);
    compare(dataset, config, Device::Cpu, &mut |_| {}).unwrap()
}

/// `log(1/K sum_k softmax(z_k / T))` of one node, in f64 from each member's f32 logits.
fn log_mixture(members: &[Vec<f64>], t: f64) -> Vec<f64> {
    let mut q = vec![0.0; members[0].len()];
    for z in members {
        let max = z.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
        let sum: f64 = z.iter().map(|v| ((v - max) / t).exp()).sum();
        for (c, v) in z.iter().enumerate() {
            q[c] += ((v - max) / t).exp() / sum / members.len() as f64;
        }
    }
    q.iter().map(|p| p.ln()).collect()
}

fn row_of(t: &Tensor, i: i64) -> Vec<f64> {
    Vec::<f64>::try_from(&t.get(i).to_kind(Kind::Double)).unwrap()
}

#[test]
fn a_gcn_and_gat_ensembles_soft_targets_are_the_mean_of_their_tempered_softmaxes() {
    let _rng = torch_rng::torch_rng();
    tch::manual_seed(5);
    let d = dataset();
    let data = GraphData::new(&d, Device::Cpu, FeatureLayout::Dense).unwrap();
    let mut config = tiny(&d, Arch::Gcn);
    config.ensemble = mixed(&[Arch::Gcn, Arch::Gat]);
    let recipes = config.member_recipes(&d);
    let stores: Vec<nn::VarStore> = recipes.iter().map(|_| nn::VarStore::new(Device::Cpu)).collect();
    let models: Vec<Box<dyn NodeModel>> =
        recipes.iter().zip(&stores).map(|(r, vs)| r.config(12, 3).build(&vs.root()).unwrap()).collect();
    let logits: Vec<Tensor> =
        models.iter().map(|m| tch::no_grad(|| m.forward_t(&data.features, &data.a_hat, false).logits)).collect();
    let gcn_hidden = tch::no_grad(|| models[0].forward_t(&data.features, &data.a_hat, false).hidden);
    let t = 2.0;
    let ensemble = Ensemble::new(models, EnsembleCombine::SoftTargets);
    let out = ensemble.targets(&data.features, &data.a_hat, t, false);
    // The training loop reads log_softmax(z / T) of the targets it is given.
    let got = (&out.logits / t).log_softmax(-1, Kind::Float);
    let mut worst = 0.0f64;
    for node in 0..d.num_nodes() as i64 {
        let want = log_mixture(&[row_of(&logits[0], node), row_of(&logits[1], node)], t);
        for (g, w) in row_of(&got, node).iter().zip(&want) {
            worst = worst.max((g - w).abs());
        }
    }
    assert!(worst < 1e-5, "log soft targets off by {worst}");
    // The members disagree (else the test would not tell a mixture from either member).
    assert!((&logits[0] - &logits[1]).abs().max().double_value(&[]) > 0.1);
    // LSP reads member 0's (the GCN's) hidden features, not a blend of two architectures'.
    assert_eq!(out.hidden.len(), gcn_hidden.len());
    assert!(out.hidden[0].equal(&gcn_hidden[0]));
}

#[test]
fn each_member_is_its_familys_teacher_trained_alone_and_the_row_sums_their_parameters() {
    let _rng = torch_rng::torch_rng();
    let d = dataset();
    let mut config = tiny(&d, Arch::Gcn);
    config.ensemble = mixed(&[Arch::Gcn, Arch::Sage, Arch::Gat]);
    let report = run(&d, &config);
    let teacher = &report.rows[0];
    let members = teacher.ensemble.as_ref().expect("the teacher row lists its members");
    assert_eq!(members.families.as_deref(), Some(&[Arch::Gcn, Arch::Sage, Arch::Gat][..]));
    assert_eq!(members.member_acc.len(), 3);
    // By the layer formulas, 12 features, 3 classes. GCN 64: 12*64 + 64 + 64*3 + 3. SAGE 64
    // (root and neighbour weights): 2*12*64 + 64 + 2*64*3 + 3. GAT 8 heads x 8: 12*64 + 2*64 +
    // 64, then one output head 64*3 + 2*3 + 3.
    let (gcn, sage, gat) = (1027, 1987, 960 + 201);
    assert_eq!(teacher.params, gcn + sage + gat);
    // Member k trains from labels with member_seed(seed, k): it must score exactly what a
    // comparison with that family's teacher alone scores on that seed.
    for (k, family) in [(0, Arch::Gcn), (1, Arch::Sage), (2, Arch::Gat)] {
        let mut alone = tiny(&d, family);
        alone.first_seed = member_seed(config.first_seed, k);
        alone.teacher_training.epochs = config.teacher_training.epochs;
        let single = &run(&d, &alone).rows[0];
        assert_eq!(members.member_acc[k][0], single.test_acc[0], "member {k} ({family}) against its family alone");
        assert_eq!(single.params, [gcn, sage, gat][k]);
    }
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(json["config"]["ensemble"]["families"], serde_json::json!(["gcn", "sage", "gat"]));
    assert_eq!(json["rows"][0]["ensemble"]["families"], serde_json::json!(["gcn", "sage", "gat"]));
    // The distillation temperature stays the teacher family's (GCN: 2), not GAT's 1.
    assert_eq!(report.config.temperature, 2.0);
}

#[test]
fn members_of_other_families_take_their_recipe_and_the_teachers_budget() {
    let _rng = torch_rng::torch_rng();
    let d = dataset();
    let mut config = tiny(&d, Arch::Gcn);
    config.teacher.hidden = 32;
    config.teacher_training.patience = Some(7);
    config.ensemble = mixed(&[Arch::Gcn, Arch::Gat, Arch::Gcn]);
    let recipes = config.member_recipes(&d);
    let gat = CompareConfig::for_family(&d, Arch::Gat);
    assert_eq!(recipes[0].model.hidden, 32, "the teacher family's members follow the comparison's settings");
    assert_eq!(recipes[2], recipes[0]);
    assert_eq!(recipes[1].model, gat.teacher);
    let training = &recipes[1].training;
    assert_eq!((training.lr, training.select), (gat.teacher_training.lr, Selection::ValLoss));
    assert_eq!((training.epochs, training.patience), (15, Some(7)));
    // A same-family ensemble is the teacher's settings K times, without families in its report.
    config.ensemble = Some(EnsembleConfig::of_size(2, EnsembleCombine::SoftTargets));
    assert_eq!(config.member_families(), [Arch::Gcn, Arch::Gcn]);
    assert!(!config.lists_families());
}

#[test]
fn families_that_cannot_run_as_asked_are_refused_before_training() {
    let _rng = torch_rng::torch_rng();
    let d = dataset();
    let refused = |families: &[Arch], change: &dyn Fn(&mut CompareConfig)| {
        let mut config = tiny(&d, Arch::Gcn);
        config.ensemble = mixed(families);
        change(&mut config);
        config.validate().expect_err("refused")
    };
    let e = refused(&[Arch::Sage, Arch::Gcn], &|_| {});
    assert!(e.contains("first member must be of the teacher's family (gcn)") && e.contains("--teacher sage"), "{e}");
    let sampler = SamplerConfig { fanouts: vec![5, 5], batch_size: 50, norm: Default::default() };
    let e = refused(&[Arch::Gcn, Arch::Appnp], &|c| c.sampler = Some(sampler.clone()));
    assert!(e.contains("appnp does not train on sampled blocks"), "{e}");
    let e = refused(&[Arch::Gcn, Arch::Sage], &|c| c.int8_rows = true);
    assert!(e.contains("int8") && e.contains("sage"), "{e}");
    let e = refused(&[Arch::Gcn, Arch::Sage], &|c| c.ensemble.as_mut().unwrap().members = 3);
    assert!(e.contains("members is 3 but ensemble.families lists 2"), "{e}");
    // A family list that runs: GCN and APPNP full-batch.
    let mut config = tiny(&d, Arch::Gcn);
    config.ensemble = mixed(&[Arch::Gcn, Arch::Appnp]);
    assert_eq!(config.validate(), Ok(()));
}

#[test]
fn teacher_ensemble_takes_a_count_or_a_family_list_and_a_count_clears_a_files_list() {
    let _rng = torch_rng::torch_rng();
    assert_eq!("3".parse::<EnsembleMembers>(), Ok(EnsembleMembers::Count(3)));
    let listed = " gcn, SAGE ,gat".parse::<EnsembleMembers>();
    assert_eq!(listed, Ok(EnsembleMembers::Families(vec![Arch::Gcn, Arch::Sage, Arch::Gat])));
    // A file that lists families alone: the list is the members.
    let mut config = mixed(&[Arch::Gcn, Arch::Sage]).unwrap();
    assert_eq!((config.members, config.size(), config.validate()), (0, 2, Ok(())));
    // A count on the command line replaces the file's list; a list replaces both.
    EnsembleMembers::Count(4).apply(&mut config);
    assert_eq!((config.size(), config.families.len()), (4, 0));
    EnsembleMembers::Families(vec![Arch::Gcn, Arch::Gat]).apply(&mut config);
    assert_eq!((config.members, config.families.clone()), (2, vec![Arch::Gcn, Arch::Gat]));
}
