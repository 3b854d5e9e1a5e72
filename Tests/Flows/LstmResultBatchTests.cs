using LstmStream.Pipeline.Flows;
using LstmStream.Pipeline.Streaming;

namespace LstmStream.Tests.Flows;

public sealed class LstmResultBatchTests
{
    /// <summary>An output micro-batch of <paramref name="rows"/> rows: key o{n}, seq n, output (n, 10n); row 1 a duplicate, row 2 without seq.</summary>
    private static StepBatch Outputs(int rows)
    {
        var batch = StepBatch.Rent(rows, 2);
        for (var n = 0; n < rows; n++)
        {
            var flags = n switch { 1 => StepFlags.HasSeq | StepFlags.Duplicate, 2 => StepFlags.None, _ => StepFlags.HasSeq };
            var r = batch.Add($"o{n}", n, flags, n);
            batch.Row(r)[0] = n;
            batch.Row(r)[1] = 10 * n;
        }

        return batch;
    }

    [Fact]
    public void Outputs_written_column_by_column_after_a_rejection_keep_their_own_kind_seq_and_y()
    {
        var batch = Outputs(4);
        var builder = new LstmResultBatch.Builder(capacity: 6, outputs: 4, width: 2);
        builder.AddRejection(new LstmStepRejected(7, "r", 3, "x", "has 1 value, the model's input size is 2"));
        batch.Rows.CopyTo(builder.OutputBlock);
        var duplicates = builder.AddOutputs(batch, 0, 3);
        builder.AddRejection(new LstmStepRejected(9, "s", null, "key", "must not be empty"));
        duplicates += builder.AddOutputs(batch, 3, 1);
        var result = builder.Build();
        batch.Release();

        Assert.Equal(1, duplicates);
        Assert.Equal(
            ["r #3 rejected", "o0 #0: [0, 0]", "o1 #1: duplicate", "o2: [2, 20]", "s rejected", "o3 #3: [3, 30]"],
            result.Select(r => r.Kind == LstmResultKind.Rejected ? $"{r.Key}{(r.Seq is { } s ? $" #{s}" : "")} rejected" : r.ToString()));
        Assert.Equal([3f, 30f], result[5].Y.ToArray());
        Assert.True(result[2].Y.IsEmpty);
    }

    [Fact]
    public void Outputs_written_column_by_column_without_rejections_are_the_rows_in_order()
    {
        var batch = Outputs(5);
        var builder = new LstmResultBatch.Builder(capacity: 5, outputs: 5, width: 2);
        batch.Rows.CopyTo(builder.OutputBlock);
        Assert.Equal(1, builder.AddOutputs(batch, 0, 5));
        var result = builder.Build();
        batch.Release();

        Assert.Equal(["o0 #0: [0, 0]", "o1 #1: duplicate", "o2: [2, 20]", "o3 #3: [3, 30]", "o4 #4: [4, 40]"], result.Select(r => r.ToString()));
        Assert.Equal([LstmResultKind.Output, LstmResultKind.Duplicate, LstmResultKind.Output, LstmResultKind.Output, LstmResultKind.Output],
            result.Select(r => r.Kind));
    }
}
