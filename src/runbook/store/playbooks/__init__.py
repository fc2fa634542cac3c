"""Records of playbook definitions, playbook runs and their targets."""
