# The pattern of pytorch/examples reinforcement_learning/reinforce.py: a policy network, Categorical
# sampling, saved log-probabilities, normalised discounted returns with np.finfo eps, torch.cat of the
# per-step losses, and `del policy.rewards[:]`.
import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torch.distributions import Categorical

eps = np.finfo(np.float32).eps.item()


class Policy(nn.Module):
    def __init__(self):
        super(Policy, self).__init__()
        self.affine1 = nn.Linear(4, 32)
        self.dropout = nn.Dropout(p=0.1)
        self.affine2 = nn.Linear(32, 2)
        self.saved_log_probs = []
        self.rewards = []

    def forward(self, x):
        x = self.affine1(x)
        x = self.dropout(x)
        x = F.relu(x)
        action_scores = self.affine2(x)
        return F.softmax(action_scores, dim=1)


class Bandit:
    """A contextual two-armed bandit: arm 0 pays where the state's first feature is positive."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def reset(self):
        self.state = self.rng.normal(size=4).astype(np.float32)
        return self.state

    def step(self, action):
        reward = 1.0 if (action == 0) == (self.state[0] > 0) else 0.0
        return self.reset(), reward


def select_action(policy, state):
    state = torch.from_numpy(state).float().unsqueeze(0)
    probs = policy(state)
    m = Categorical(probs)
    action = m.sample()
    policy.saved_log_probs.append(m.log_prob(action))
    return action.item()


def finish_episode(policy, optimizer, gamma=0.9):
    R = 0
    policy_loss = []
    returns = []
    for r in policy.rewards[::-1]:
        R = r + gamma * R
        returns.insert(0, R)
    returns = torch.tensor(returns)
    returns = (returns - returns.mean()) / (returns.std() + eps)
    for log_prob, R in zip(policy.saved_log_probs, returns):
        policy_loss.append(-log_prob * R)
    optimizer.zero_grad()
    policy_loss = torch.cat(policy_loss).sum()
    policy_loss.backward()
    optimizer.step()
    del policy.rewards[:]
    del policy.saved_log_probs[:]


def main():
    torch.manual_seed(543)
    env = Bandit(0)
    policy = Policy()
    optimizer = optim.Adam(policy.parameters(), lr=1e-2)
    running = []
    for i_episode in range(60):
        state, ep_reward = env.reset(), 0
        for t in range(20):
            action = select_action(policy, state)
            state, reward = env.step(action)
            policy.rewards.append(reward)
            ep_reward += reward
        running.append(ep_reward / 20)
        finish_episode(policy, optimizer)
    return {"first": float(np.mean(running[:10])), "last": float(np.mean(running[-10:]))}
