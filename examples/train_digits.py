"""Train a small MLP on scikit-learn's digits (bundled data, no download) with PyTorch.

`torch2tf translate examples/train_digits.py` turns the whole script, training loop included,
into TensorFlow: the optimizer, loss and scheduler become torch-exact Keras helpers and the
loop a tf.GradientTape loop. tests/test_loops.py runs both scripts' `train` from the same
initial weights on the same batches and compares their losses.
"""

import torch
import torch.nn as nn
from sklearn.datasets import load_digits
from torch.utils.data import DataLoader, TensorDataset


class DigitsMLP(nn.Module):
    def __init__(self, hidden=64):
        super().__init__()
        self.fc1 = nn.Linear(64, hidden)
        self.act1 = nn.ReLU()
        self.fc2 = nn.Linear(hidden, hidden)
        self.act2 = nn.Tanh()
        self.out = nn.Linear(hidden, 10)

    def forward(self, x):
        x = self.act1(self.fc1(x))
        x = self.act2(self.fc2(x))
        return self.out(x)


def evaluate(model, criterion, X, y):
    """Loss and accuracy on a whole split, without gradients."""
    model.eval()
    with torch.no_grad():
        logits = model(X)
        loss = criterion(logits, y).item()
        accuracy = (logits.argmax(dim=1) == y).float().mean().item()
    return loss, accuracy


def train(model, X_train, y_train, X_test, y_test, epochs=10, shuffle=True):
    """Train with Adam, a per-epoch StepLR and gradient clipping; return per-epoch metrics."""
    train_set = TensorDataset(X_train, y_train)
    train_loader = DataLoader(train_set, batch_size=64, shuffle=shuffle)
    criterion = nn.CrossEntropyLoss(label_smoothing=0.05)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=4, gamma=0.5)
    history = []
    for epoch in range(epochs):
        model.train()
        total = 0.0
        for xb, yb in train_loader:
            optimizer.zero_grad()
            loss = criterion(model(xb), yb)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.parameters(), max_norm=1.0)
            optimizer.step()
            total += loss.item() * len(xb)
        scheduler.step()
        test_loss, accuracy = evaluate(model, criterion, X_test, y_test)
        train_loss = total / len(train_loader.dataset)
        history.append((train_loss, test_loss, accuracy))
        print(
            f"epoch {epoch + 1}: train {train_loss:.4f}, test {test_loss:.4f}, acc {accuracy:.3f}"
        )
    return history


def load_data(dtype=torch.float32):
    """Digits scaled to [0, 1]: 1500 images to train on, the other 297 to test."""
    X, y = load_digits(return_X_y=True)
    X = torch.tensor(X / 16.0, dtype=dtype)
    y = torch.tensor(y, dtype=torch.long)
    return X[:1500], y[:1500], X[1500:], y[1500:]


if __name__ == "__main__":
    torch.manual_seed(0)
    X_train, y_train, X_test, y_test = load_data()
    model = DigitsMLP()
    train(model, X_train, y_train, X_test, y_test)
