//! Writing the gdistill HDF5 graph layout (see the parent module), atomically.

use std::path::Path;

use hdf5::types::VarLenUnicode;

use super::{H5GRAPH_FORMAT, H5GRAPH_VERSION};
use crate::atomic::write_dataset_file;
use crate::{DatasetError, FeatureLayout, NodeDataset};

fn vlen(path: &Path, s: &str) -> Result<VarLenUnicode, DatasetError> {
    s.parse::<VarLenUnicode>().map_err(|e| DatasetError::format(path, format!("cannot store string '{s}': {e}")))
}

fn write_all(path: &Path, tmp: &Path, dataset: &NodeDataset, layout: FeatureLayout) -> hdf5::Result<()> {
    let file = crate::h5file::create(tmp)?;
    let fmt: VarLenUnicode = H5GRAPH_FORMAT.parse().map_err(|e| hdf5::Error::from(format!("{e}")))?;
    file.new_attr::<VarLenUnicode>().create("format")?.write_scalar(&fmt)?;
    file.new_attr::<i64>().create("version")?.write_scalar(&H5GRAPH_VERSION)?;
    let name = vlen(path, &dataset.name).map_err(|e| hdf5::Error::from(e.to_string()))?;
    file.new_attr::<VarLenUnicode>().create("name")?.write_scalar(&name)?;

    let ints = |group: &hdf5::Group, name: &str, values: &[i64]| -> hdf5::Result<()> {
        group.new_dataset::<i64>().shape([values.len()]).create(name)?.write_raw(values)
    };
    let as_i64 = |v: &[usize]| v.iter().map(|&x| x as i64).collect::<Vec<i64>>();

    let edges = dataset.graph.undirected_edges();
    let mut edge_index: Vec<i64> = edges.iter().map(|&(i, _)| i as i64).collect();
    edge_index.extend(edges.iter().map(|&(_, j)| j as i64));
    file.new_dataset::<i64>().shape([2, edges.len()]).create("edge_index")?.write_raw(&edge_index)?;

    let sparse = layout.is_sparse_for(dataset);
    let features = &dataset.features;
    if sparse {
        let csr = if features.is_csr() { features.clone() } else { features.to_csr() };
        let group = file.create_group("features_csr")?;
        group.new_dataset::<f32>().shape([csr.nnz()]).create("data")?.write_raw(csr.data())?;
        ints(&group, "indices", &as_i64(csr.indices()))?;
        ints(&group, "indptr", &as_i64(&csr.indptr().to_proper()))?;
        ints(&group, "shape", &[csr.rows() as i64, csr.cols() as i64])?;
    } else {
        let dense = dataset.dense_features();
        file.new_dataset::<f32>()
            .shape([dataset.num_nodes(), dataset.num_features()])
            .create("features")?
            .write_raw(&dense)?;
    }
    ints(&file, "labels", &as_i64(&dataset.labels))?;
    ints(&file, "train_idx", &as_i64(&dataset.train))?;
    ints(&file, "val_idx", &as_i64(&dataset.val))?;
    ints(&file, "test_idx", &as_i64(&dataset.test))?;
    let names = dataset
        .class_names
        .iter()
        .map(|s| vlen(path, s))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| hdf5::Error::from(e.to_string()))?;
    file.new_dataset::<VarLenUnicode>().shape([names.len()]).create("class_names")?.write_raw(&names)?;
    file.close()
}

/// Writes `dataset` to `path` in the gdistill HDF5 graph layout. The dataset is validated first;
/// the file appears at `path` only once complete (temporary file + rename in the same directory).
pub fn write_h5graph(path: &Path, dataset: &NodeDataset, layout: FeatureLayout) -> Result<(), DatasetError> {
    dataset.validate()?;
    write_dataset_file(path, "writing HDF5", |tmp| write_all(path, tmp, dataset, layout))
}
