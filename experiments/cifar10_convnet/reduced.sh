# The reduced schedule every script of this experiment trains with (sourced, not run).
FXNN=${FXNN:-build/fxnn}
THREADS=${THREADS:-0}
CONFIG=configs/cifar10_convnet.yaml
REDUCED=(--set model.width=0.25 --set train.epochs=8 --set optim.lr=0.05 --set "optim.lr_milestones=[5]")
