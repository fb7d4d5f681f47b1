"""The model of the paper: run settings (config), the latent code, the networks G, E and D, the losses, and the
training step that ties them together (gan.BidirectionalInfoGAN)."""
